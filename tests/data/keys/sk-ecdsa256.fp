256 SHA256:yH1aH3o+vq1sIZOzUoilOLqjxo0GtHyux++T+jKWu3I fixture-sk-ecdsa256 (ECDSA-SK)
