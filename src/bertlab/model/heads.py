"""Alternative classification heads: subclasses of `TextClassifier` that override
`build_network`. Select one from a model config with `_target_` (see docs/extending.md)."""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from bertlab.model.module import TextClassifier


class MeanPooledNetwork(nn.Module):
    """A BERT encoder whose token vectors are averaged (padding excluded) and classified.

    Called like a Hugging Face model: keyword tensors in, an output with `.logits` out.
    """

    def __init__(self, encoder: nn.Module, dropout: nn.Module, classifier: nn.Linear) -> None:
        super().__init__()
        self.encoder, self.dropout, self.classifier = encoder, dropout, classifier

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)))


class MeanPoolingClassifier(TextClassifier):
    """Classifies the mean of the last layer's token vectors instead of the pooled [CLS].

    all-MiniLM-L6-v2 (the default weights) was trained for mean-pooled sentence embeddings,
    so this head starts from the representation those weights were made for. Everything
    else (loss, metrics, optimizer, checkpoints) is inherited.
    """

    def build_network(self) -> nn.Module:
        """Reuse the standard network's encoder, dropout and fresh linear layer; drop the pooler."""
        standard = super().build_network()  # BertForSequenceClassification
        encoder = standard.bert
        encoder.pooler = None  # unused: no dead parameters (DDP would complain about them)
        return MeanPooledNetwork(encoder, standard.dropout, standard.classifier).train()
