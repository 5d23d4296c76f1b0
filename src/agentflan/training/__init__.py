"""Training: model and tokenizer, chat template, loss masks and packing, the accelerate loop."""
