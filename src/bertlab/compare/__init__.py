"""Honest comparisons: did configuration B beat A beyond seed noise?

    python -m bertlab.compare "" "model=minilm_mean" --seeds 5

trains each arm with the same seeds on one split (reusing finished runs), tests each run once,
and reports per metric mean ± std over seeds, the paired difference per seed and a paired
bootstrap interval over test examples and seeds (see `bertlab.compare.stats`)."""
