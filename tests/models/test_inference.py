"""``predict_outputs``: every row's output in the rows' order, in evaluation mode; sentences in batches of
about one length, so a model that trims padding computes each batch only to its longest sentence."""

from __future__ import annotations

import torch
from torch import nn

from layerlab.models.inference import predict_outputs
from layerlab.models.layers import trim_padding


class MeanOfTokens(nn.Module):
    """Embeds token ids (0 = padding), trims the all-padding columns, averages the rest; records widths."""

    def __init__(self):
        super().__init__()
        self.embed, self.dropout, self.head = nn.Embedding(50, 8), nn.Dropout(0.5), nn.Linear(8, 3)
        self.shapes: list[tuple[int, int]] = []  # (rows, tokens) of each batch, after trimming

    def forward(self, ids):
        ids = trim_padding(ids)
        self.shapes.append(tuple(ids.shape))
        mask = (ids != 0).unsqueeze(-1).float()
        return self.head(self.dropout((self.embed(ids) * mask).sum(1) / mask.sum(1)))


def sentences(lengths: list[int], width: int = 20) -> torch.Tensor:
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1, 50, (n,))
    return ids


def test_rows_come_back_in_order_from_batches_of_about_one_length():
    torch.manual_seed(0)
    model = MeanOfTokens().train()
    lengths = [20 if i % 4 == 0 else 2 + i % 3 for i in range(40)]  # a long sentence in every 4
    ids = sentences(lengths)
    out = predict_outputs(model, ids, batch_size=10)
    assert model.training  # put back as it was
    # Sorted, longest first, in 8 batches (of 5 rows: fewer than the 10 asked): the ten long sentences fill
    # two, and the others are at most 4 tokens wide. In the rows' order every batch of 10 would hold a
    # long one: [(10, 20)] * 4, 800 tokens computed against 200 + 120.
    assert [rows for rows, _ in model.shapes] == [5] * 8
    widths = [width for _, width in model.shapes]
    assert widths[:2] == [20, 20] and max(widths[2:]) <= 4 and widths == sorted(widths, reverse=True)
    with torch.no_grad():
        one_by_one = torch.cat([model.eval()(ids[i : i + 1]) for i in range(len(ids))])
    torch.testing.assert_close(out, one_by_one)  # each row's own output, in the rows' order, no dropout


def test_batches_never_exceed_batch_size_and_features_keep_their_order():
    torch.manual_seed(0)
    tokens = MeanOfTokens()
    predict_outputs(tokens, sentences([3, 9, 1, 5] * 10), batch_size=3)
    assert max(rows for rows, _ in tokens.shapes) == 3 and sum(rows for rows, _ in tokens.shapes) == 40
    model = nn.Linear(5, 2)
    x = torch.randn(23, 5)
    torch.testing.assert_close(predict_outputs(model, x, batch_size=4), model(x).detach())
    assert predict_outputs(model, x[:0], batch_size=4).shape[0] == 0
