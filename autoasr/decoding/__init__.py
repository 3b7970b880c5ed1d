"""Layer 2, CTC outputs into text: greedy decoding, and lexicon + n-gram LM beam search."""
