"""Sequence models against references: attention vs torch's, masks, packing, causality, gradient flow."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from layerlab.errors import LayerLabError, RecipeError
from layerlab.models import create_model
from layerlab.models.attention import (
    AdditiveAttention,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product,
)
from layerlab.models.rnn import time_step_gradients


@pytest.fixture(autouse=True)
def _one_thread():
    """Small recurrent kernels run far faster on one thread on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tokens(lengths: list[int], T: int, vocab: int = 30, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, vocab, (len(lengths), T), generator=g)
    for i, n in enumerate(lengths):
        x[i, n:] = 0
    return x


def test_scaled_dot_product_matches_torch_with_padding_and_causal_masks():
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 6, 8, dtype=torch.float64) for _ in range(3))
    tokens = _tokens([6, 4, 2], 6)
    for mask in (padding_mask(tokens), causal_mask(6), padding_mask(tokens) & causal_mask(6)):
        ours, weights = scaled_dot_product(q, k, v, mask)
        torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
        assert torch.all(weights.masked_select(~mask.expand_as(weights)) == 0)  # nothing attends to a masked key
        torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_nn_multihead_attention(causal):
    torch.manual_seed(0)
    ours, ref = MultiHeadAttention(16, 4).double().eval(), nn.MultiheadAttention(16, 4, batch_first=True).double().eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    tokens = _tokens([7, 5, 3], 7)
    expected, _ = ref(x, x, x, key_padding_mask=tokens == 0,
                      attn_mask=~causal_mask(7) if causal else None)  # torch's masks say where NOT to attend
    got = ours(x, x, x, mask=padding_mask(tokens), causal=causal)
    torch.testing.assert_close(got, expected)
    ours.keep_weights = True  # the written-out path with weights gives the same result
    torch.testing.assert_close(ours(x, x, x, mask=padding_mask(tokens), causal=causal), expected)
    if causal:
        assert torch.all(ours.weights[..., 0, 1:] == 0)  # the first position sees only itself


def test_attention_under_cpu_bf16_autocast_runs_its_kernel_in_fp32_and_answers_in_bf16():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 9, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = mha(x, x, x, causal=True)
        q, k, v = (layer(x).view(2, 9, 4, 4).transpose(1, 2) for layer in (mha.q, mha.k, mha.v))  # bf16
    expected = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = mha.out(expected.transpose(1, 2).reshape(2, 9, 16))
    assert got.dtype == torch.bfloat16 and torch.equal(got, expected)
    got.float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and mha.q.weight.grad.abs().sum() > 0


def test_additive_attention_ignores_padded_keys():
    torch.manual_seed(0)
    attend = AdditiveAttention(5, 6)
    keys, keep = torch.randn(2, 4, 6), torch.tensor([[True, True, False, False], [True, True, True, True]])
    context, weights = attend(torch.randn(2, 5), keys, keep)
    assert torch.all(weights[0, 2:] == 0) and torch.allclose(weights.sum(1), torch.ones(2))
    torch.testing.assert_close(context, (weights[:, :, None] * keys).sum(1))


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_recurrent_classifiers_ignore_padding(name, pooling):
    torch.manual_seed(0)
    model = create_model({"name": name, "vocab_size": 30, "hidden": 8, "embed_dim": 6, "bidirectional": True,
                          "pooling": pooling}, input_shape=(9,), num_outputs=3).eval()
    x = _tokens([9, 5, 2], 9)
    short = x[:, :5].clone()  # the same sentences with less padding
    with torch.no_grad():
        torch.testing.assert_close(model(x)[1:], model(short)[1:])


def test_lstm_last_state_is_torch_lstm_final_hidden_state():
    torch.manual_seed(0)
    model = create_model({"name": "lstm", "hidden": 8, "layers": 2}, input_shape=(6, 3), num_outputs=2).eval()
    x = torch.randn(4, 6, 3)
    _, (h, _) = model.rnn(x)
    torch.testing.assert_close(model(x), model.head(h[-1]))


def test_gpt_is_causal_and_ties_its_output_to_the_embedding():
    torch.manual_seed(0)
    model = create_model({"name": "gpt", "vocab_size": 20, "dim": 32, "heads": 4, "layers": 2},
                         input_shape=(10,), num_outputs=20).eval()
    assert model.head.weight is model.embed.weight
    x = _tokens([10, 10], 10, vocab=20)
    changed = x.clone()
    changed[:, 6:] = 5  # changing later tokens must not change the predictions at earlier positions
    with torch.no_grad():
        torch.testing.assert_close(model(x)[:, :6], model(changed)[:, :6])
        assert not torch.allclose(model(x)[:, 6:], model(changed)[:, 6:])


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_transformer_classifier_ignores_padding(positions):
    torch.manual_seed(0)
    model = create_model({"name": "transformer", "vocab_size": 30, "dim": 16, "heads": 2, "positions": positions},
                         input_shape=(8,), num_outputs=2).eval()
    x = _tokens([8, 3], 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[1], model(x[:, :4])[1])


def test_textcnn_handles_sentences_shorter_than_its_kernels():
    model = create_model({"name": "textcnn", "vocab_size": 30}, input_shape=(2,), num_outputs=2).eval()
    assert model(_tokens([2, 1], 2)).shape == (2, 2)


@pytest.mark.parametrize("name", ["transformer-seq2seq", "rnn-seq2seq"])
def test_decoding_step_by_step_equals_teacher_forcing(name):
    torch.manual_seed(0)
    model = create_model({"name": name, "vocab_size": 30, "target_vocab_size": 25, "dropout": 0.0,
                          **({"dim": 16, "heads": 2} if name.startswith("transformer") else {"hidden": 16, "embed_dim": 8})},
                         input_shape=(7,), num_outputs=25).eval()
    src, tgt = _tokens([7, 4], 7), _tokens([6, 6], 6, vocab=25, seed=1)
    with torch.no_grad():
        forced = model(src, tgt)  # (B, T, V)
        state, steps = model.start(src), []
        for t in range(tgt.shape[1]):
            logits, state = model.step(state, tgt[:, t])
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), forced, atol=1e-5, rtol=1e-4)


def test_gradient_vanishes_through_time_far_faster_in_a_plain_rnn():
    x, y = _tokens([64] * 16, 64, vocab=60), _tokens([64] * 16, 64, vocab=60, seed=1)
    back30 = {}
    for name in ("rnn", "lstm", "gru"):
        torch.manual_seed(0)
        model = create_model({"name": name, "vocab_size": 60, "pooling": "none", "hidden": 64, "layers": 1},
                             input_shape=(64,), num_outputs=60)
        norms = time_step_gradients(model, x, y)
        assert norms.shape == (64,) and torch.all(norms >= 0)
        back30[name] = (norms[-31] / norms[-1]).item()  # 30 steps back, relative to the last step
    assert back30["lstm"] > 1000 * back30["rnn"] and back30["gru"] > 1000 * back30["rnn"]


@pytest.mark.parametrize("spec", [
    {"name": "textcnn", "embed_dim": 16},
    {"name": "lstm", "embed_dim": 16, "hidden": 8, "pooling": "max"},
    {"name": "transformer", "dim": 16, "heads": 2, "dropout": 0.0},
])
def test_token_models_take_kim_init_and_word_dropout(spec):
    torch.manual_seed(0)
    model = create_model({**spec, "vocab_size": 50, "embed_init": 0.25, "word_dropout": 0.5},
                         input_shape=(8,), num_outputs=2)
    weight = model.embed.weight
    assert weight.abs().max() <= 0.25 and weight[0].abs().sum() == 0  # uniform in [-a, a]; padding stays zero
    assert weight.abs().max() > 0.2  # the whole range is used, not torch's N(0, 1) nor zeros
    if spec["name"] == "transformer":  # learned positions start on the tokens' scale too
        assert 0.2 < model.pos.table.weight.abs().max() <= 0.25
    x = torch.randint(1, 50, (64, 8))
    model.eval()
    assert torch.equal(model(x), model(x))  # no word dropout at evaluation
    model.train()
    model.drop.p = 0.0  # only word dropout left: two passes differ, and dropping every word changes the output
    assert not torch.equal(model(x), model(x))
    model.embed.word_dropout = 0.999999
    dropped = model(x)
    if spec["name"] != "transformer":  # (the transformer still sees positions: outputs differ by position only)
        assert torch.allclose(dropped, dropped[:1].expand_as(dropped), atol=1e-5)  # all-zero embeddings: one output
    model.eval()
    assert not torch.allclose(dropped, model(x))


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_token_embedding_options_are_refused_for_float_features(name):
    with pytest.raises(LayerLabError, match="model.word_dropout shapes a token embedding.*float features"):
        create_model({"name": name, "dim": 16, "heads": 2, "word_dropout": 0.2} if name == "transformer"
                     else {"name": name, "word_dropout": 0.2}, input_shape=(8, 3), num_outputs=2)


def test_textcnn_mean_pooling_counts_only_real_windows():
    torch.manual_seed(0)
    model = create_model({"name": "textcnn", "vocab_size": 30, "embed_dim": 6, "kernel_sizes": [1, 2], "filters": 4,
                          "pooling": ["max", "mean"]}, input_shape=(9,), num_outputs=3).eval()
    assert model.head.in_features == 2 * 4 * 2  # widths x filters x poolings
    x = _tokens([9, 5, 2], 9)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[1:], model(x[:, :6])[1:])  # more padding, the same outputs
        # by hand for the sentence of 5 words: each width's ReLU map over the 5 windows that start at a
        # word (the last one of width 2 runs into padding, as Kim's did), its max and its mean
        features = []
        e = model.embed(x[1:2, :6]).transpose(1, 2)
        for conv in model.convs:
            h = torch.relu(conv(e))[:, :, :5]
            features += [h.max(2).values, h.mean(2)]
        by_width = [torch.cat(features[i : i + 2], 1) for i in (0, 2)]
        torch.testing.assert_close(model(x)[1:2], model.head(torch.cat(by_width, 1)))
    with pytest.raises(LayerLabError, match="names a pooling twice"):
        create_model({"name": "textcnn", "vocab_size": 30, "pooling": ["max", "max"]}, input_shape=(9,), num_outputs=2)


def test_lstm_forget_gates_start_at_the_configured_bias():
    torch.manual_seed(0)
    model = create_model({"name": "lstm", "hidden": 8, "layers": 2, "bidirectional": True}, input_shape=(5, 3),
                         num_outputs=2)
    for layer in range(2):
        for suffix in ("", "_reverse"):
            b_ih, b_hh = (getattr(model.rnn, f"bias_{kind}_l{layer}{suffix}") for kind in ("ih", "hh"))
            total = (b_ih + b_hh).detach()
            assert torch.equal(total[8:16], torch.ones(8))  # the forget quarter sums to 1
            assert total[:8].abs().max() > 0 and total[:8].abs().max() < 1  # input gate: PyTorch's init kept
    torch.manual_seed(0)
    plain = create_model({"name": "lstm", "hidden": 8, "forget_bias": None}, input_shape=(5, 3), num_outputs=2)
    torch.manual_seed(0)
    reference = nn.LSTM(3, 8, 2, batch_first=True)
    assert torch.equal(plain.rnn.bias_ih_l0, reference.bias_ih_l0)  # None: PyTorch's uniform init untouched
    with pytest.raises(RecipeError, match="model.forget_bias: unknown key"):  # an LSTM option only
        create_model({"name": "gru", "forget_bias": 1.0}, input_shape=(5, 3), num_outputs=2)


def test_fasttext_bags_words_and_hashed_ngrams_ignoring_padding():
    torch.manual_seed(0)
    model = create_model({"name": "fasttext", "vocab_size": 10, "ngrams": 3, "buckets": 1000},
                         input_shape=(5,), num_outputs=2)
    x = torch.tensor([[3, 4, 5, 0, 0]])
    ids, real = model.grams(x)
    words, bigrams, trigrams = ids[0, :5], ids[0, 5:9], ids[0, 9:]
    assert words.tolist() == [3, 4, 5, 0, 0] and real[0, :5].tolist() == [True, True, True, False, False]
    assert bigrams[:2].tolist() == [10 + 34, 10 + 45] and real[0, 5:9].tolist() == [True, True, False, False]
    assert trigrams[0].item() == 10 + 345 and real[0, 9:].tolist() == [True, False, False]
    model.eval()
    # the mean over the real words and n-grams: padding, however long, changes nothing
    assert torch.allclose(model(x), model(torch.tensor([[3, 4, 5, 0, 0, 0, 0, 0]])), atol=1e-6)
    embedded = model.embed.weight[torch.tensor([3, 4, 5, 44, 55, 355])].mean(0)
    assert torch.allclose(model(x)[0], model.head(embedded), atol=1e-6)
    # word order counts inside an n-gram only: a bag of words alone cannot tell these apart
    words_only = create_model({"name": "fasttext", "vocab_size": 10, "ngrams": 1}, input_shape=(3,), num_outputs=2).eval()
    assert torch.equal(words_only(torch.tensor([[3, 4, 5]])), words_only(torch.tensor([[5, 4, 3]])))
    assert not torch.allclose(model(torch.tensor([[3, 4, 5]])), model(torch.tensor([[5, 4, 3]])))
    model.train()
    model.drop.p = 0.0
    assert not torch.equal(model(x), model(x))  # words and n-grams left out at random in training


def test_trim_padding_drops_only_the_trailing_columns_that_are_padding_in_every_row():
    from layerlab.models.layers import trim_padding

    ids = torch.tensor([[4, 0, 5, 0, 0], [6, 7, 0, 0, 0]])
    assert trim_padding(ids).tolist() == [[4, 0, 5], [6, 7, 0]]  # a gap inside a row is kept
    assert trim_padding(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 1)  # at least one column
    assert trim_padding(torch.tensor([[3, 1, 1], [3, 3, 1]]), pad_id=1).tolist() == [[3, 1], [3, 3]]


@pytest.mark.parametrize("spec", [
    {"name": "textcnn", "kernel_sizes": [2, 3, 5], "pooling": ["max", "mean"]},
    {"name": "lstm", "bidirectional": True, "pooling": "last"},
    {"name": "gru", "pooling": "attention"},
    {"name": "transformer", "dim": 16, "heads": 2, "pooling": "max"},
])
def test_token_classifiers_trim_padding_without_changing_an_output(spec, monkeypatch):
    """A batch costs its longest sentence: the columns that are padding in every row are dropped first, and the
    outputs are those of the whole padded batch (the textcnn keeps the padding its last windows run into)."""
    import importlib

    torch.manual_seed(0)
    model = create_model({"vocab_size": 30, **spec}, input_shape=(12,), num_outputs=3).eval()
    module = importlib.import_module(type(model).__module__)
    x = _tokens([6, 4, 1], 12)  # half of the 12 columns are padding in every row
    seen = []
    real_trim = module.trim_padding
    monkeypatch.setattr(module, "trim_padding", lambda ids, pad_id=0: seen.append(real_trim(ids, pad_id).shape[1])
                        or real_trim(ids, pad_id))
    with torch.no_grad():
        trimmed = model(x)
        monkeypatch.setattr(module, "trim_padding", lambda ids, pad_id=0: ids)  # every column computed, as before
        padded = model(x)
    assert seen == [6]
    torch.testing.assert_close(trimmed, padded)


@pytest.mark.parametrize("spec", [{"name": "lstm", "pooling": "max"}, {"name": "transformer", "dim": 16, "heads": 2,
                                                                         "pooling": "max"}])
def test_max_pooling_of_an_empty_sentence_is_finite(spec):
    torch.manual_seed(0)
    model = create_model({"vocab_size": 30, **spec}, input_shape=(6,), num_outputs=2).eval()
    with torch.no_grad():
        out = model(_tokens([4, 0], 6))  # the second sentence has no token at all
    assert torch.isfinite(out).all()
