"""The built-in model families: each name with its module, its config class, its description and its
group, declared in ``MODELS`` without importing torch (in the order of the listings).

A family's builder is registered by its module under the same name (``@MODELS.register("cnn")``) and
loads on first use, when a model is built; checking a recipe or listing the models reads only this.
"""

from layerlab.models.base import MODELS
from layerlab.models.configs_image import (
    AcousticConfig,
    AutoencoderConfig,
    CenterNetConfig,
    CNNConfig,
    GANConfig,
    MLPConfig,
    ResNetConfig,
    SynthesisConfig,
    TimmConfig,
    TorchvisionConfig,
    TVDetectionConfig,
    TVSegmentationConfig,
    UNetConfig,
    VGGConfig,
)
from layerlab.models.configs_python import PythonModuleConfig
from layerlab.models.configs_sequence import (
    FastTextConfig,
    GPTConfig,
    GRUConfig,
    HFConfig,
    LSTMConfig,
    RNNConfig,
    RNNSeq2SeqConfig,
    TextCNNConfig,
    TransformerConfig,
    TransformerSeq2SeqConfig,
)

MODELS.declare("acoustic", "layerlab.models.acoustic", config=AcousticConfig, description="acoustic model for CTC: conv front end over log-mel frames, bidirectional GRU/LSTM or transformer encoder", group="acoustic")
MODELS.declare("autoencoder", "layerlab.models.autoencoder", config=AutoencoderConfig, group="autoencoder", description="autoencoder (conv or dense) to a small code; for reconstruction and denoising")
MODELS.declare("vae", "layerlab.models.autoencoder", config=AutoencoderConfig, group="autoencoder", description="variational autoencoder (beta-VAE) with a Gaussian latent")
MODELS.declare("centernet", "layerlab.models.centernet", config=CenterNetConfig, group="detection", description="small anchor-free detector from scratch (CenterNet): centre heatmap, box size and offset; loss inside the model")
MODELS.declare("cnn", "layerlab.models.cnn", config=CNNConfig, description="small fast CNN: conv-BN-ReLU blocks, max-pool, global average pool", group="cnn")
MODELS.declare("tv-detection", "layerlab.models.detection_tv", config=TVDetectionConfig, group="detection", description="torchvision's Faster R-CNN / RetinaNet / FCOS / SSDlite / Mask R-CNN; loss inside the model")
MODELS.declare("fasttext", "layerlab.models.fasttext", config=FastTextConfig, group="fasttext", description="fastText: the mean of word and hashed word n-gram embeddings, then linear (text classification)")
MODELS.declare("dcgan", "layerlab.models.gan", config=GANConfig, group="gan", description="DCGAN generator and discriminator")
MODELS.declare("cgan", "layerlab.models.gan", config=GANConfig, group="gan", description="class-conditional DCGAN (concatenated class embedding, projection discriminator)")
MODELS.declare("mlp", "layerlab.models.mlp", config=MLPConfig, description="fully connected layers on flattened input", group="mlp")
MODELS.declare("tv:", "layerlab.models.pretrained", config=TorchvisionConfig, group="pretrained", description="tv:<name>: any torchvision classifier with its pretrained weights, new head, input transform")
MODELS.declare("timm:", "layerlab.models.pretrained", config=TimmConfig, group="pretrained", description="timm:<name>: a timm model with its pretrained weights (when timm is installed)")
MODELS.declare("hf:", "layerlab.models.pretrained_text", config=HFConfig, group="pretrained", description="hf:<hub id or dir>: a Hugging Face transformers encoder as a sentence classifier, new head")
MODELS.declare("python:", "layerlab.models.python_module", config=PythonModuleConfig, group="python", description="python:<module>:<class>: your own nn.Module class (layerlab.fit records it)")
MODELS.declare("resnet18", "layerlab.models.resnet", config=ResNetConfig, description="ResNet-18 (torchvision), small-image stem", group="resnet")
MODELS.declare("resnet34", "layerlab.models.resnet", config=ResNetConfig, description="ResNet-34 (torchvision), small-image stem", group="resnet")
MODELS.declare("resnet50", "layerlab.models.resnet", config=ResNetConfig, description="ResNet-50 (torchvision), bottleneck blocks, small-image stem", group="resnet")
MODELS.declare("rnn", "layerlab.models.rnn", config=RNNConfig, description="plain recurrent network (tanh), on tokens or float sequences", group="recurrent")
MODELS.declare("lstm", "layerlab.models.rnn", config=LSTMConfig, description="LSTM, on tokens or float sequences", group="recurrent")
MODELS.declare("gru", "layerlab.models.rnn", config=GRUConfig, description="GRU, on tokens or float sequences", group="recurrent")
MODELS.declare("tv-segmentation", "layerlab.models.segmentation_tv", config=TVSegmentationConfig, group="segmentation", description="torchvision's FCN / DeepLabV3 / LR-ASPP for segmentation, from scratch")
MODELS.declare("transformer", "layerlab.models.transformer", config=TransformerConfig, group="transformer", description="transformer encoder classifier (padding-masked self-attention, pooled)")
MODELS.declare("gpt", "layerlab.models.transformer", config=GPTConfig, group="transformer", description="decoder-only transformer language model (GPT-style, causal, tied weights)")
MODELS.declare("transformer-seq2seq", "layerlab.models.seq2seq", config=TransformerSeq2SeqConfig, group="seq2seq", description="transformer encoder-decoder for translation (teacher forcing, beam search)")
MODELS.declare("rnn-seq2seq", "layerlab.models.seq2seq", config=RNNSeq2SeqConfig, group="seq2seq", description="GRU/LSTM encoder-decoder with additive (Bahdanau) attention, for translation")
MODELS.declare("tts", "layerlab.models.synthesis", config=SynthesisConfig, description="text to log-mel frames: token encoder, duration predictor, length regulator, frame decoder", group="synthesis")
MODELS.declare("textcnn", "layerlab.models.textcnn", config=TextCNNConfig, group="textcnn", description="Kim's 1-D CNN over word embeddings, max-pooled over time (sentence classification)")
MODELS.declare("unet", "layerlab.models.unet", config=UNetConfig, description="U-Net for segmentation: per-pixel class logits", group="segmentation")
MODELS.declare("vgg11", "layerlab.models.vgg", config=VGGConfig, description="VGG-11 (torchvision layers), batch norm, small-image head", group="vgg")
MODELS.declare("vgg16", "layerlab.models.vgg", config=VGGConfig, description="VGG-16 (torchvision layers), batch norm, small-image head", group="vgg")
