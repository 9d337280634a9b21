"""The compliance gate: rule examples, corpora, properties."""
