"""Classification heads, chosen by config (`model.head`): what the encoder's token vectors
become before the linear classifier.

- `cls` (default): BERT's pooled [CLS] vector (`BertForSequenceClassification` as it is;
  the only head `python -m bertlab.export` can hand to `transformers.pipeline`).
- `mean`: the average of the last layer's token vectors, padding excluded. all-MiniLM-L6-v2
  (the default weights) was trained for mean-pooled sentence embeddings.
- `attention`: a learned score per token, softmax over the non-pad tokens, their weighted sum.

A pooling of your own: a module `forward(hidden, mask) -> (batch, hidden)` registered in
`POOLINGS` (docs/extending.md §2).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from bertlab.model.module import TextClassifier, encoder_mask


class MeanPooling(nn.Module):
    """The mean of the token vectors where `mask` is 1 (no parameters)."""

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class AttentionPooling(nn.Module):
    """A weighted mean of the token vectors, the weights a softmax of one learned score per
    token over the tokens where `mask` is 1."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(hidden).squeeze(-1).float()
        scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)
        weights = scores.softmax(-1).to(hidden.dtype).unsqueeze(-1)
        return (hidden * weights).sum(1)


POOLINGS: dict[str, type[nn.Module]] = {"mean": MeanPooling, "attention": AttentionPooling}
HEADS = ("cls", *POOLINGS)


class PooledNetwork(nn.Module):
    """A BERT encoder whose token vectors are pooled (`pooling`) and classified.

    Called like a Hugging Face model: keyword tensors in, an output with `.logits` out.
    """

    def __init__(
        self, encoder: nn.Module, dropout: nn.Module, classifier: nn.Linear, pooling: nn.Module
    ) -> None:
        super().__init__()
        self.encoder, self.dropout, self.classifier = encoder, dropout, classifier
        self.pooling = pooling

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        config = self.encoder.config
        mask = encoder_mask(attention_mask, config._attn_implementation, self.encoder.dtype)
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids
        ).last_hidden_state
        pooled = self.pooling(hidden, attention_mask)
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)))


def pooled_network(standard: nn.Module, head: str) -> nn.Module:
    """`standard` (a `BertForSequenceClassification`) with `head` pooling instead of its
    pooled [CLS]: its encoder, dropout and fresh linear layer reused, its pooler dropped."""
    encoder = standard.bert
    encoder.pooler = None  # unused: no dead parameters (DDP would complain about them)
    pooling = POOLINGS[head]
    module = pooling(encoder.config.hidden_size) if pooling is AttentionPooling else pooling()
    return PooledNetwork(encoder, standard.dropout, standard.classifier, module).train()


class MeanPoolingClassifier(TextClassifier):
    """`TextClassifier(head="mean")`, under the name run configs written before `model.head`
    existed still name (`_target_: bertlab.model.heads.MeanPoolingClassifier`)."""

    def __init__(self, pretrained: str = "default", *, head: str = "mean", **kwargs) -> None:
        super().__init__(pretrained, head=head, **kwargs)
