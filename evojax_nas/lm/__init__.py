"""Language models: tokenizer, Flax decoder, KV-cache sampling, soft prompts, remote backends."""
