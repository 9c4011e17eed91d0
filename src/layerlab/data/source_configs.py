"""The options of every built-in data source, declared in ``SOURCES`` without importing torch or numpy.

Each source's reading function, in ``layerlab.data.sources.<name>``, is registered under the same name
and loads on first use; ``layerlab recipe check`` and ``recipe explain`` read only this module.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from layerlab.data.config import AudioConfig, ColumnsConfig, DataConfig, SpeechConfig, TextConfig, Tokens
from layerlab.data.registry import SOURCES

FASHION_MNIST_CLASSES = 10  # scenes: the classes of Fashion-MNIST garments a scene may hold

# The classes of the sources that know them before reading any data (fixed_classes)
DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class ImageFolderConfig(DataConfig):
    image_size: int | None = Field(None, gt=0, description="image-folder: resize images to this square size (default: the first image's size)")
    grayscale: bool = Field(False, description="image-folder: convert images to one channel")
    cache: Literal["auto", "memory", "mmap"] = Field("auto", description="image-folder: where the decoded images are held: memory, or mmap (decoded once into a uint8 file under $LAYERLAB_CACHE/images, default ~/.cache/layerlab/images, reused while the folder is unchanged, read batch by batch: for folders larger than memory); auto: mmap when they exceed half the machine's memory")


class MaskFolderConfig(DataConfig):
    masks: str | None = Field(None, description="mask-folder: the folder of mask PNGs (class index per pixel)")
    mask_suffix: str = Field("", description="mask-folder: what follows the image's name in its mask's (e.g. _mask)")
    classes: list[str] | None = Field(None, description="mask-folder: the class names, in the order of the mask values (default class0, class1, ...)")
    size: int = Field(128, ge=8, le=2048, description="mask-folder: side of the square images and masks are resized to")
    grey: bool = Field(False, description="mask-folder: read the images as grey (1 channel) instead of RGB")


class ScenesConfig(DataConfig):
    # how many scenes, and how large
    canvas: int = Field(64, ge=32, le=512, description="scenes: side of the square scene in pixels")
    train_scenes: int = Field(2000, ge=1, description="scenes: scenes made from the training images")
    test_scenes: int = Field(500, ge=1, description="scenes: scenes made from the test images")

    # what each scene holds
    objects: tuple[int, int] = Field((1, 3), description="scenes: the fewest and the most objects in a scene")
    scale: tuple[float, float] = Field((0.8, 1.5), description="scenes: the smallest and the largest scale of a 28x28 image")

    # how hard the scenes are
    max_overlap: float = Field(0.3, ge=0, le=1, description="scenes: largest IoU of an object's box with an earlier one's")
    noise: float = Field(0.1, ge=0, le=1, description="scenes: standard deviation of the background noise, a fraction of full intensity")
    mask_threshold: float = Field(0.1, gt=0, lt=1, description="scenes: an object's pixels brighter than this fraction of full intensity are its mask")
    classes: list[int] | None = Field(None, description="scenes: only these Fashion-MNIST classes (0-9), renumbered in this order (None = all ten)")
    scene_seed: int = Field(0, description="scenes: seed of the scenes (the training and test scenes are drawn from their own streams)")

    @model_validator(mode="after")
    def _ranges(self) -> ScenesConfig:
        if not 1 <= self.objects[0] <= self.objects[1]:
            raise ValueError(f"@objects@must be [fewest, most] with 1 <= fewest <= most, got {list(self.objects)}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"@scale@must be [smallest, largest] with 0 < smallest <= largest, got {list(self.scale)}")
        if round(28 * self.scale[1]) > self.canvas:
            raise ValueError(f"@scale@{self.scale[1]} makes objects of {round(28 * self.scale[1])} pixels, "
                             f"larger than the canvas ({self.canvas})")
        if self.classes is not None and (not self.classes or len(set(self.classes)) != len(self.classes)
                                         or not all(0 <= c < FASHION_MNIST_CLASSES for c in self.classes)):
            raise ValueError(f"@classes@must be distinct Fashion-MNIST class indices 0 to 9, got {self.classes}")
        return self


class PennFudanConfig(DataConfig):
    size: int = Field(128, ge=32, le=1024, description="pennfudan: side of the square the photographs are resized to")
    test_images: int = Field(50, ge=1, le=160, description="pennfudan: photographs held out for testing (a fixed seeded draw)")
    grey: bool = Field(False, description="pennfudan: read the photographs as grey (1 channel) instead of RGB")


class CocoConfig(DataConfig):
    images: str | None = Field(None, description="coco: the folder of the images the file names (default: beside the file)")
    size: int = Field(128, ge=8, le=2048, description="coco: side of the square the images are resized to")


class YoloConfig(DataConfig):
    labels: str | None = Field(None, description="yolo: the folder of label .txt files (one per image)")
    classes_file: str | None = Field(None, description="yolo: the file naming one class a line, in the order of the ids")
    size: int = Field(128, ge=8, le=2048, description="yolo: side of the square the images are resized to")
    grey: bool = Field(False, description="yolo: read the images as grey (1 channel) instead of RGB")


class CsvConfig(ColumnsConfig):
    categorical: list[str] | None = Field(None, description="csv: columns to one-hot encode; default every non-numeric column")


class SeriesConfig(ColumnsConfig):
    columns: list[str] | None = Field(None, description="series: the columns read as model inputs (default: every numeric column); data.target is the one forecast")
    window: int = Field(24, ge=1, description="series: look-back window: the time steps the model sees")
    horizon: int = Field(1, ge=1, description="series: how many steps ahead are forecast (one model output per step)")
    season: int | None = Field(None, ge=1, description="series: the season's length in steps, for the seasonal-naive baseline (default: the data set's own, co2 12, sunspots 11; none for a csv)")


class SentencesConfig(TextConfig, ColumnsConfig):
    text_column: str | None = Field(None, description="sentences: in a CSV/TSV file, the text column (name, or 0-based index); the label is data.target")


class ParallelConfig(TextConfig):
    source_lang: str = Field("de", description="parallel: the source side's file suffix (train.de or train.de.gz)")
    target_lang: str = Field("en", description="parallel: the target side's file suffix (train.en or train.en.gz)")
    test_split: str | None = Field(None, description="parallel: the stem of the test files (default test; multi30k: test_2016_flickr)")


class AudioFolderConfig(AudioConfig):
    label_pattern: str | None = Field(None, description="audio-folder: a regular expression searched in each file name; its group 'label' (or first group) is the class, its group 'speaker' the speaker (default: the class is the file's subfolder)")


class DigitStringsConfig(SpeechConfig):
    tokens: Tokens = Field("words", description="speech: the transcripts' tokens for CTC: words (one per digit) or chars (letters and the space)")
    utterances: int = Field(2000, ge=1, description="digit-strings: training (and validation) utterances to make")
    test_utterances: int = Field(500, ge=1, description="digit-strings: test utterances to make")
    min_digits: int = Field(1, ge=1, description="digit-strings: fewest digits in an utterance")
    max_digits: int = Field(7, ge=1, description="digit-strings: most digits in an utterance")
    pause_ms: tuple[float, float] = Field((30.0, 250.0), description="digit-strings: the shortest and longest pause of silence before and between digits, in ms")
    speakers: list[str] | None = Field(None, description="digit-strings: only these speakers' recordings (default: all)")
    utterance_seed: int = Field(0, description="digit-strings: seed of the draw of digits, recordings and pauses")

    @model_validator(mode="after")
    def _ranges(self) -> DigitStringsConfig:
        if self.min_digits > self.max_digits:
            raise ValueError(f"@min_digits@({self.min_digits}) is above data.max_digits ({self.max_digits})")
        low, high = self.pause_ms
        if not 0 <= low <= high:
            raise ValueError(f"@pause_ms@needs 0 <= shortest <= longest, got [{low}, {high}]")
        return self


class SpeechManifestConfig(SpeechConfig):
    test_manifest: str | None = Field(None, description="speech-manifest: a manifest of the test utterances (default: data.test_fraction of data.path's held out)")


SOURCES.declare("csv", "layerlab.data.sources.csv_table", config=CsvConfig, description="a CSV table (data.path): numbers standardised, categories one-hot encoded")
SOURCES.declare("arrays", "layerlab.data.sources.arrays", config=DataConfig, description="arrays in a .npz file (x, y, optional test_x, test_y): what layerlab.fit writes")
SOURCES.declare("audio-folder", "layerlab.data.sources.audio_folder", config=AudioFolderConfig, description="your WAV recordings, labelled by subfolder or by data.label_pattern")
SOURCES.declare("fsdd", "layerlab.data.sources.audio_folder", config=AudioConfig, description="Free Spoken Digit Dataset: 3,000 WAV recordings of 10 digits by 6 speakers (8 kHz)")
SOURCES.declare("cifar10", "layerlab.data.sources.cifar10", config=DataConfig, description="32x32 colour images of 10 classes (50,000 train, 10,000 test; python version)")
SOURCES.declare("coco", "layerlab.data.sources.coco", config=CocoConfig, description="a COCO instances JSON file and its image folder, for detection")
SOURCES.declare("digit-strings", "layerlab.data.sources.digit_strings", config=DigitStringsConfig, description="spoken digit strings (1-7 digits, one speaker each) joined from FSDD's recordings, with transcripts")
SOURCES.declare("digits", "layerlab.data.sources.digits", config=DataConfig, description="scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes; no download)")
SOURCES.declare("image-folder", "layerlab.data.sources.image_folder", config=ImageFolderConfig, description="your images in one subfolder per class (optionally under train/ and test/)")
SOURCES.declare("mask-folder", "layerlab.data.sources.mask_folder", config=MaskFolderConfig, description="an image folder and a folder of mask PNGs (a class index per pixel), for segmentation")
SOURCES.declare("fashion-mnist", "layerlab.data.sources.mnist", config=DataConfig, description="Zalando's 28x28 clothing images (60,000 train, 10,000 test, 10 classes)")
SOURCES.declare("mnist", "layerlab.data.sources.mnist", config=DataConfig, description="handwritten digits, 28x28 (60,000 train, 10,000 test, 10 classes)")
SOURCES.declare("multi30k", "layerlab.data.sources.parallel", config=ParallelConfig, description="Multi30k: 29,000 German-English sentence pairs (test_2016_flickr)")
SOURCES.declare("parallel", "layerlab.data.sources.parallel", config=ParallelConfig, description="a line-aligned parallel corpus (data.path: train.de, train.en, ...)")
SOURCES.declare("pennfudan", "layerlab.data.sources.pennfudan", config=PennFudanConfig, description="Penn-Fudan pedestrians: 170 photographs with person boxes and masks (50 held out)")
SOURCES.declare("scenes", "layerlab.data.sources.scenes", config=ScenesConfig, description="Fashion-MNIST garments placed on a noisy canvas, with exact boxes, classes and masks")
SOURCES.declare("rt-polarity", "layerlab.data.sources.sentences", config=SentencesConfig, description="10,662 movie-review sentences, positive or negative (Pang & Lee)")
SOURCES.declare("sentences", "layerlab.data.sources.sentences", config=SentencesConfig, description="labelled sentences (data.path): one file per class, or a CSV/TSV file")
SOURCES.declare("speech-manifest", "layerlab.data.sources.speech_manifest", config=SpeechManifestConfig, description="your WAV recordings with transcripts, listed in a CSV/TSV manifest (path,transcript)")
SOURCES.declare("tinyshakespeare", "layerlab.data.sources.text_corpus", config=TextConfig, description="1.1 MB of Shakespeare's plays, for character-level language models")
SOURCES.declare("text", "layerlab.data.sources.text_corpus", config=TextConfig, description="a plain text file (data.path) for language modelling, split by position")
SOURCES.declare("series", "layerlab.data.sources.timeseries", config=SeriesConfig, description="a time series in a CSV file (data.path), one row per step, in time order")
SOURCES.declare("co2", "layerlab.data.sources.timeseries", config=SeriesConfig, description="Mauna Loa CO2 in ppm, monthly 1958-2001 (526 steps; bundled with statsmodels)")
SOURCES.declare("sunspots", "layerlab.data.sources.timeseries", config=SeriesConfig, description="yearly sunspot numbers 1700-2008 (309 steps; bundled with statsmodels)")
SOURCES.declare("yolo", "layerlab.data.sources.yolo", config=YoloConfig, description="images with YOLO txt box labels and a classes file, for detection")

FIXED_CLASSES = {"cifar10": CIFAR10_CLASSES, "digits": DIGIT_CLASSES, "fashion-mnist": FASHION_CLASSES, "mnist": DIGIT_CLASSES}


def fixed_classes(name: str) -> list[str] | None:
    """The classes of source ``name`` when they are known without reading its data, so a recipe can be
    checked against them before any work: a built-in source's from ``FIXED_CLASSES`` (for CIFAR-10, how
    many: the names may differ), a plugin's from ``classes`` set on its function; None for sources whose
    classes come from the data (CSV, folders)."""
    if name not in SOURCES:
        return None
    entry = SOURCES.entry(name)
    classes = FIXED_CLASSES.get(name) if entry.module else getattr(entry.obj, "classes", None)
    return list(classes) if classes is not None else None
