"""Text: reading text files with a known encoding, tokenizers, and the text preprocessing of a run.

    from layerlab.data.text import train_tokenizer, read_text
    tok = train_tokenizer(["to be or not to be"], kind="word")
    tok.encode_batch(["to be"])  # [[5, 4]]
"""

from layerlab.data.text.reading import read_lines, read_text
from layerlab.data.text.tokenizers import BOS, EOS, PAD, SPECIAL_TOKENS, UNK, TextTokenizer, train_tokenizer

__all__ = ["BOS", "EOS", "PAD", "SPECIAL_TOKENS", "TextTokenizer", "UNK", "read_lines", "read_text",
           "train_tokenizer"]
