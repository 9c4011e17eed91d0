"""The options of the image and audio model families, without importing torch.

``families`` declares each in ``MODELS`` with its name; the family's builder, in its own module
(``layerlab.models.cnn``, ...), loads on first use.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from layerlab.errors import did_you_mean
from layerlab.models.base import Activation, ModelConfig


class CNNConfig(ModelConfig):
    name: Literal["cnn"] = Field("cnn", description="a small convolutional network")
    width: int = Field(32, ge=1, description="channels of the first block; each later block doubles them")
    blocks: int = Field(3, ge=1, description="convolution blocks, with a 2x2 max-pool between them")
    convs_per_block: int = Field(2, ge=1, description="convolutions in each block")
    kernel_size: int = Field(3, ge=1, description="side of the square convolution kernels (odd, so the map keeps its size)")
    batch_norm: bool = Field(True, description="batch normalisation after each convolution")
    activation: Activation = Field("relu", description="after each convolution: relu, gelu, tanh, sigmoid or leaky_relu")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout probability before each linear layer of the head")
    head_hidden: int | None = Field(None, ge=1, description="width of a hidden layer in the head (None = one linear layer)")

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, size: int) -> int:
        if size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (3, 5, ...) so that padding keeps the map's size, got {size}")
        return size


class MLPConfig(ModelConfig):
    name: Literal["mlp"] = Field("mlp", description="a fully connected network")
    hidden: list[int] = Field([256, 128], description="sizes of the hidden layers, input side first ([] = a linear model)")
    activation: Activation = Field("relu", description="after each hidden layer: relu, gelu, tanh, sigmoid or leaky_relu")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout probability after each hidden activation")
    batch_norm: bool = Field(False, description="batch normalisation between each hidden layer and its activation")

    @field_validator("hidden")
    @classmethod
    def _positive(cls, sizes: list[int]) -> list[int]:
        if any(size < 1 for size in sizes):
            raise ValueError(f"hidden sizes must be positive, got {sizes}")
        return sizes


class ResNetConfig(ModelConfig):
    name: Literal["resnet18", "resnet34", "resnet50"] = Field("resnet18", description="the depth: resnet18, resnet34 or resnet50")
    stem: Literal["auto", "small", "imagenet"] = Field(
        "auto", description="small: 3x3 stride-1 conv, no max-pool; imagenet: 7x7 stride-2 conv and max-pool; auto: small below 64 pixels"
    )
    width: int = Field(64, ge=1, description="channels of the first stage (torchvision: 64); each later stage doubles them")
    zero_init_residual: bool = Field(True, description="start each residual branch's last batch norm at 0, so blocks begin as identities")


class VGGConfig(ModelConfig):
    name: Literal["vgg11", "vgg16"] = Field("vgg11", description="the depth: vgg11 or vgg16")
    width: float = Field(1.0, gt=0, description="multiplier of torchvision's channel counts (64 ... 512)")
    batch_norm: bool = Field(True, description="batch normalisation after each convolution (torchvision's vgg*_bn)")
    head: Literal["auto", "small", "imagenet"] = Field(
        "auto", description="small: global average pool, one hidden layer; imagenet: 7x7 pool, two 4096 layers; auto: small below 64 pixels"
    )
    head_hidden: int = Field(512, ge=1, description="width of the small head's hidden layer")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout probability after each hidden layer of the head")


class UNetConfig(ModelConfig):
    name: Literal["unet"] = Field("unet", description="a U-Net for segmentation")
    width: int = Field(16, ge=1, description="channels of the first level; each deeper level doubles them")
    depth: int = Field(3, ge=1, le=6, description="poolings between the top level and the bottom one")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout at the bottom of the U")


class AutoencoderConfig(ModelConfig):
    name: Literal["autoencoder", "vae"] = Field("autoencoder", description="autoencoder, or vae (Gaussian latent)")
    kind: Literal["conv", "dense"] = Field("conv", description="conv (images with sides divisible by 4) or dense (any input)")
    latent: int = Field(16, ge=1, description="dimensions of the code (the bottleneck)")
    width: int = Field(32, ge=1, description="conv: channels of the first convolution (the second has twice as many)")
    hidden: int = Field(256, ge=1, description="dense: units of the hidden layer on each side of the code")
    activation: Activation = Field("relu", description="between layers: relu, gelu, tanh, sigmoid or leaky_relu")


class GANConfig(ModelConfig):
    name: Literal["dcgan", "cgan"] = Field("dcgan", description="dcgan (unconditional) or cgan (class-conditional)")
    latent: int = Field(64, ge=1, description="dimensions of the generator's Gaussian noise input")
    width: int = Field(64, ge=1, description="generator: channels before its last layer (twice as many before that)")
    d_width: int = Field(64, ge=1, description="discriminator: channels of its first convolution (twice as many in the second)")
    spectral_norm: bool = Field(False, description="spectral normalisation of every discriminator layer")


SegmentationArch = Literal["lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50",
                           "fcn_resnet50"]


class TVSegmentationConfig(ModelConfig):
    name: Literal["tv-segmentation"] = Field("tv-segmentation", description="a torchvision segmentation model")
    arch: SegmentationArch = Field("lraspp_mobilenet_v3_large", description="which torchvision segmentation model")


DetectionArch = Literal["fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_fpn",
                        "fasterrcnn_resnet50_fpn", "retinanet_resnet50_fpn", "fcos_resnet50_fpn",
                        "ssdlite320_mobilenet_v3_large", "maskrcnn_resnet50_fpn"]


class TVDetectionConfig(ModelConfig):
    name: Literal["tv-detection"] = Field("tv-detection", description="a torchvision detection model")
    arch: DetectionArch = Field("fasterrcnn_mobilenet_v3_large_fpn", description="which torchvision detector")
    weights: str | None = Field(None, description="tv-detection: torchvision weights to start from (DEFAULT, COCO_V1, ...; downloaded once, online only)")
    weights_path: str | None = Field(None, description="tv-detection: read the starting weights from this local file (.pth state dict or .safetensors)")
    min_size: int | None = Field(None, ge=16, description="tv-detection: images are resized so their shorter side is this (None: their own size)")
    detections: int = Field(100, ge=1, description="tv-detection: most detections kept per image")
    proposals: int | None = Field(None, ge=1, description="tv-detection: Faster/Mask R-CNN: region proposals kept per image before and after NMS, in training and evaluation (None: torchvision's 2000/1000); fewer is faster on small scenes")

    @field_validator("weights", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.lower() in {"none", "null", ""} else value

    def architecture_only(self) -> TVDetectionConfig:
        return self.model_copy(update={"weights": None, "weights_path": None})


class CenterNetConfig(ModelConfig):
    name: Literal["centernet"] = Field("centernet", description="a small anchor-free detector (CenterNet, objects as points)")
    width: int = Field(32, ge=4, description="centernet: channels after the first downsampling; each later one doubles them")
    stride: Literal[2, 4, 8] = Field(4, description="centernet: pixels per cell of the output map (a 64x64 image gives 16x16 cells at 4)")
    head_width: int = Field(64, ge=4, description="centernet: channels of the 3x3 convolution in each head (centre heatmap, box)")
    spread: float = Field(0.54, gt=0, le=3, description="centernet: a centre's gaussian has a standard deviation of spread x the box's side / 6")
    size_weight: float = Field(0.1, ge=0, description="centernet: weight of the L1 loss on box width and height (in cells)")
    offset_weight: float = Field(1.0, ge=0, description="centernet: weight of the L1 loss on the centre's offset inside its cell")
    detections: int = Field(100, ge=1, description="centernet: most detections kept per image (the top heatmap peaks)")
    min_score: float = Field(0.01, ge=0, lt=1, description="centernet: peaks scoring below this are not detections")


class PretrainedImageConfig(ModelConfig):
    """Options shared by the pretrained image families."""

    takes_pixels: ClassVar[bool] = True  # inputs are pixels in [0, 1]: the model standardises them itself

    weights: str | None = Field("DEFAULT", description="pretrained: the weights to start from (torchvision: a weights enum member such as IMAGENET1K_V2, or DEFAULT); none = random")
    weights_path: str | None = Field(None, description="pretrained: read the weights from this local file (.pth state dict or .safetensors) instead of downloading them")
    image_size: int | None = Field(None, ge=8, description="pretrained: side inputs are resized to (default: the weights' own, e.g. 224)")

    @field_validator("weights", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.lower() in {"none", "null", ""} else value

    _load_weights: bool = PrivateAttr(True)  # False: the architecture only (weights come from a run)

    def architecture_only(self) -> PretrainedImageConfig:
        copy = super().architecture_only()
        copy._load_weights = False
        return copy

    @model_validator(mode="after")
    def _keep_weights(self) -> PretrainedImageConfig:
        if self.init != "default" and (self.weights or self.weights_path):
            raise ValueError("@init@a pretrained model keeps its weights; use init with weights: none")
        return self

    def arch(self) -> str:
        return self.name.partition(":")[2]


class TorchvisionConfig(PretrainedImageConfig):
    name: str = Field("tv:resnet18", description="tv:<name>: a torchvision classification model (tv:resnet50, tv:vgg16, tv:efficientnet_b0, ...)")

    @model_validator(mode="after")
    def _known(self) -> TorchvisionConfig:
        import torchvision.models as tvm

        names = tvm.list_models(module=tvm)
        if self.arch() not in names:
            raise ValueError(f"@name@'{self.arch()}' is not a torchvision classification model"
                             f"{did_you_mean(self.arch(), names, prefix='tv:')} (see torchvision.models.list_models())")
        if self.weights is not None:
            members = list(tvm.get_model_weights(self.arch()).__members__)
            if self.weights not in members:
                raise ValueError(f"@weights@'{self.weights}' is not a weights of {self.arch()}"
                                 f"{did_you_mean(self.weights, members)} (known: {', '.join(members)}, none)")
        return self


class TimmConfig(PretrainedImageConfig):
    name: str = Field("timm:resnet18", description="timm:<name>: a timm model (needs `pip install timm`)")
    weights: str | None = Field("DEFAULT", description="pretrained: DEFAULT (timm's pretrained weights for the name) or none")


Encoder = Literal["gru", "lstm", "transformer"]


class AcousticConfig(ModelConfig):
    name: Literal["acoustic"] = Field("acoustic", description="conv front end over log-mel frames + bidirectional GRU/LSTM or transformer encoder, per-frame logits for CTC")
    channels: int = Field(32, ge=1, description="channels of the convolutional front end")
    subsample: Literal[1, 2, 4] = Field(4, description="time (and frequency) subsampling of the front end: 1, 2 or 4")
    encoder: Encoder = Field("gru", description="the sequence encoder: gru or lstm (bidirectional), or transformer")
    hidden: int = Field(128, ge=1, description="size of the encoder's states (each direction of a GRU/LSTM; the transformer's width)")
    layers: int = Field(2, ge=1, description="encoder layers")
    heads: int = Field(4, ge=1, description="transformer encoder: attention heads (must divide hidden)")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout between the encoder's layers and before the output layer")
    max_frames: int = Field(2048, ge=1, description="transformer encoder: the most frames (after subsampling) its learned positions cover")


class SynthesisConfig(ModelConfig):
    name: Literal["tts"] = Field("tts", description="text to log-mel frames: token encoder, duration predictor, length regulator, frame decoder")
    embed_dim: int = Field(64, ge=1, description="size of the token embeddings")
    hidden: int = Field(64, ge=1, description="size of each direction of the token encoder's GRU")
    channels: int = Field(128, ge=1, description="channels of the frame decoder's convolutions")
    decoder_layers: int = Field(3, ge=1, description="convolutions of the frame decoder")
    kernel: int = Field(5, ge=1, description="frames each decoder convolution spans (odd)")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout on the token states and before the output layer")
    position_harmonics: int = Field(0, ge=0, le=16, description="besides the frame's place inside its token (0 to 1), "
                                    "sin and cos of k * pi * place for k = 1..N, so the decoder can shape a word's sound along it")

    @field_validator("kernel")
    @classmethod
    def _odd(cls, size: int) -> int:
        if size % 2 == 0:
            raise ValueError(f"kernel must be odd (3, 5, ...) so that the decoder keeps the number of frames, got {size}")
        return size
