"""The ``data`` section: what every data source shares, and the options of families of sources.

A built-in source's options are a subclass of ``DataConfig`` declared with its name in
``data.source_configs`` (``SOURCES.declare("csv", "layerlab.data.sources.csv_table", config=CsvConfig)``,
no torch there); a plugin registers its class with its function. A recipe's ``data: {name: csv, ...}``
is checked against that class. Options shared by a family of sources (tables, texts, recordings) are
declared once here, in the family's class.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from layerlab.config import NamedSection, Section
from layerlab.data.registry import SOURCES
from layerlab.recipe_errors import NestedErrors, problems
from layerlab.registry import Registry

# The tokens of speech transcripts: characters (letters and the space) or words
Tokens = Literal["chars", "words"]


class AugmentConfig(Section):
    crop_padding: int = Field(0, ge=0, description="random crop after zero-padding each side by this many pixels (0 = off)")
    hflip: bool = Field(False, description="flip images left-right with probability 0.5")
    vflip: bool = Field(False, description="flip images upside-down with probability 0.5")
    zoom: float = Field(0.0, ge=0, lt=1, description="scale each image about its centre by a factor drawn uniformly from [1 - zoom, 1 + zoom] (0 = off); class maps, boxes and masks move with it")
    erase: float = Field(0.0, ge=0, le=1, description="probability of erasing a random rectangle (random erasing)")
    noise: float = Field(0.0, ge=0, description="standard deviation of Gaussian noise added to normalised inputs")
    freq_mask: int = Field(0, ge=0, description="audio: SpecAugment: mask up to this many consecutive mel bands (0 = off)")
    freq_masks: int = Field(1, ge=1, description="audio: SpecAugment: frequency masks per example")
    time_mask: int = Field(0, ge=0, description="audio: SpecAugment: mask up to this many consecutive frames (0 = off)")
    time_masks: int = Field(1, ge=1, description="audio: SpecAugment: time masks per example")


class UnlabeledConfig(Section):
    """``data.unlabeled``: unlabelled examples from elsewhere than the training split, for ``train.semi``."""

    path: str | None = Field(None, description="unlabeled: a folder (any subfolders, their names ignored) or file of inputs of the labelled data's kind (images, WAV recordings, CSV rows), read at the labelled data's size with its preprocessing")
    source: dict[str, Any] | None = Field(None, description="unlabeled: instead of path, another data source's section (e.g. {name: mnist}); its training examples' inputs, their labels ignored")
    limit: int | None = Field(None, gt=0, description="unlabeled: use at most this many of them (a seeded draw)")

    @field_validator("source")
    @classmethod
    def _a_source(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if {"unlabeled", "labels_per_class", "labeled_fraction"} & set(value):
            raise ValueError("@@is the section of the source the unlabelled inputs come from; "
                             "data.unlabeled, labels_per_class and labeled_fraction belong to the labelled data's section")
        name = value.get("name", DataConfig.model_fields["name"].default)
        if not isinstance(name, str) or name not in SOURCES:
            raise ValueError(f"@name@{SOURCES.unknown_message(name)}")
        own = SOURCES.entry(name).config
        try:
            own.model_validate({**value, "name": name})
        except ValidationError as exc:
            raise NestedErrors(problems(exc, "data.unlabeled.source", own)) from None
        return {**value, "name": name}

    @model_validator(mode="after")
    def _one_of(self) -> UnlabeledConfig:
        if (self.path is None) == (self.source is None):
            raise ValueError("@@give either path (a folder of unlabelled inputs) or source (another data source's "
                             "section), not " + ("both" if self.path is not None else "neither"))
        return self


class DataConfig(NamedSection):
    """What every source takes: where the files are, how the examples are split, limited, normalised,
    augmented and grouped. The image data sets (digits, mnist, fashion-mnist, cifar10) take only these."""

    name: str = Field("digits", description="data source (`layerlab recipe explain data NAME` lists a source's options): digits, fashion-mnist, mnist, cifar10, image-folder, csv, fsdd, audio-folder, series, co2, sunspots, ...")
    path: str | None = Field(None, description="file or directory to read (only there; a relative path not found is looked for in each data directory)")
    download: bool = Field(True, description="download from the official address (checked by SHA-256) when not found locally")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="fraction of the training split held out for validation (stratified, seeded)")
    test_fraction: float = Field(0.2, ge=0, lt=1, description="fraction held out for testing when the source has no test split of its own")
    folds: int | None = Field(None, ge=2, description="k-fold cross-validation: cut the data into this many seeded (stratified) folds and test on fold data.fold instead of data.test_fraction (`layerlab cv` runs every fold)")
    fold: int = Field(0, ge=0, description="with data.folds: the fold held out for testing (0-based)")
    limit: int | None = Field(None, gt=0, description="use at most this many training examples (quick runs)")
    normalize: bool = Field(True, description="standardise inputs with statistics from the training split only")
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="augmentation of training batches")
    groups: str | None = Field(None, description="groups of examples (audits, group_balance): column:NAME, file:REGEX (its first group, in file names) or meta:PATH (CSV of id,group)")
    group_balance: bool = Field(False, description="resample the training split so that every group (data.groups) is seen as often as the largest")
    generated: str | None = Field(None, description="classification: a conditional GAN (cgan) run directory whose samples are added to the training split")
    generated_per_class: int = Field(100, ge=1, description="classification: with data.generated, generated training images per class")
    labels_per_class: int | None = Field(None, ge=1, description="classification: keep this many labelled training examples per class (seeded); the rest of the training split is unlabelled data for train.semi (None: every label)")
    labeled_fraction: float | None = Field(None, gt=0, lt=1, description="classification: instead of data.labels_per_class, keep this share of each class's training examples labelled (rounded, at least one; seeded); the rest is unlabelled data for train.semi")
    labeled_repeat: int = Field(1, ge=1, description="with data.labels_per_class: the labelled examples appear this many times in the training split, so that an epoch takes more steps")
    labels_per_group: bool = Field(False, description="with data.labels_per_class and data.groups: keep that many labelled examples per class within each group (fsdd with groups file:^\\d+_([a-z]+)_: 5 recordings per digit and speaker)")
    unlabeled: UnlabeledConfig | None = Field(None, description="classification with train.semi: unlabelled inputs from elsewhere, {path: FOLDER} or {source: {name: ...}}, beside (or instead of) the rest of data.labels_per_class's training split")
    pretext: Literal["rotation"] | None = Field(None, description="classification: learn from the images alone, their labels ignored: rotation turns each image by a seeded 0, 90, 180 or 270 degrees and asks which (a backbone for model.from_run; square images, no flips)")

    @classmethod
    def registry(cls) -> Registry:
        return SOURCES

    @property
    def keeps_few_labels(self) -> bool:
        """data.labels_per_class or data.labeled_fraction: a few labels kept, the rest of the training split unlabelled."""
        return self.labels_per_class is not None or self.labeled_fraction is not None

    @model_validator(mode="after")
    def _splits_fit(self) -> DataConfig:
        if self.group_balance and not self.groups:
            raise ValueError("@group_balance@needs data.groups, the rule that gives each example its group")
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"@fold@is 0-based and must be below data.folds ({self.folds}), got {self.fold}")
        if self.folds is None and self.fold:
            raise ValueError("@fold@needs data.folds, the number of folds the data is cut into")
        few = self.keeps_few_labels
        if self.labels_per_class is not None and self.labeled_fraction is not None:
            raise ValueError("@labeled_fraction@and data.labels_per_class both say how many labels to keep; set one")
        if self.labeled_repeat > 1 and not few:
            raise ValueError("@labeled_repeat@repeats the few labelled examples of data.labels_per_class; set that too")
        if self.labels_per_group and (not few or not self.groups):
            raise ValueError("@labels_per_group@draws data.labels_per_class within each group of data.groups; set both")
        if self.pretext is not None:
            self._pretext_fits()
        return self

    def _pretext_fits(self) -> None:
        """data.pretext makes every training image's label: nothing may keep, add or flip labels beside it."""
        for key in ("labels_per_class", "labeled_fraction", "unlabeled", "generated"):
            if getattr(self, key) is not None:
                raise ValueError(f"@pretext@makes a label for every image (its rotation), so data.{key} has nothing to "
                                 "work on here; set it in the run that starts from this one (model.from_run)")
        for flip in ("hflip", "vflip"):
            if getattr(self.augment, flip):
                raise ValueError(f"@augment.{flip}@would mirror a turned image, and a mirrored quarter turn one way "
                                 "looks like a quarter turn the other way; leave flips off with data.pretext: rotation")


# ----------------------------------------------------------------------------------------- families
class ColumnsConfig(DataConfig):
    """Sources that read a delimited text file of columns (csv, series, sentences)."""

    target: str | None = Field(None, description="csv, series: the target column (name, or 0-based index when there is no header); default the last")
    header: bool = Field(True, description="csv, series: the first row holds column names")
    delimiter: str = Field(",", description="csv, series: the column separator")

    @field_validator("target", mode="before")
    @classmethod
    def _index_as_text(cls, target: Any) -> Any:
        # `target: 14` in YAML is an int; the sources read a column index from its text, as on the command line
        return str(target) if isinstance(target, int) and not isinstance(target, bool) else target


class TextConfig(DataConfig):
    """Sources of text, cut into tokens (text corpora, labelled sentences, parallel corpora)."""

    tokenizer: Literal["char", "word", "bpe"] | Annotated[str, StringConstraints(pattern=r"^hf:.+")] = Field("char", description="text: how text becomes tokens: char, word, or bpe (subwords learned from the training split); hf:<model> (a pretrained model's own, set for hf: models)")
    vocab_size: int = Field(8000, ge=5, description="text: word and bpe: the largest vocabulary, special tokens included")
    min_frequency: int = Field(1, ge=1, description="text: word and bpe: tokens seen fewer times in the training split become <unk>")
    lowercase: bool = Field(False, description="text: lower-case the text before tokenising")
    max_length: int = Field(128, ge=1, le=1_000_000, description="text: tokens per training window (language models), or the most tokens kept of a sentence (at most 1,000,000)")
    encoding: str | None = Field(None, description="text: the files' character encoding, e.g. latin-1 (default utf-8; the rt-polarity source knows its own)")


class AudioConfig(DataConfig):
    """Sources of recordings, turned into log-mel spectrograms (fsdd, audio-folder)."""

    test_speaker: str | None = Field(None, description="audio: test on this speaker's recordings, train on the others' (leave-one-speaker-out; fsdd, or a label_pattern with a 'speaker' group)")
    sample_rate: int | None = Field(None, gt=0, description="audio: the sample rate in Hz every recording is brought to (default: the first file's)")
    resample: bool = Field(True, description="audio: resample recordings made at another rate than data.sample_rate (false: refuse them)")
    clip_seconds: float = Field(1.0, gt=0, description="audio: cut or zero-pad every recording to this many seconds")
    n_mels: int = Field(40, ge=1, description="audio: mel bands of the log-mel spectrogram")
    window_ms: float = Field(32.0, gt=0, description="audio: STFT window length in milliseconds")
    hop_ms: float = Field(16.0, gt=0, description="audio: milliseconds between STFT frames")


class SpeechConfig(AudioConfig):
    """Sources of spoken utterances with transcripts (speech recognition)."""

    clip_seconds: float = Field(5.0, gt=0, description="speech: the longest utterance in seconds; shorter ones are zero-padded (silence) to it")
    tokens: Tokens = Field("chars", description="speech: the transcripts' tokens for CTC: chars (letters and the space) or words (one token per word)")
