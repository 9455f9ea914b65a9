"""Extraction methods: mean_diff, pca, probe, lda (see registry)."""
