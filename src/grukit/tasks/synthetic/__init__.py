"""Generated long-term-dependency tasks: the adding problem and copy memory; ``base`` holds
what they share (split sizes and seed)."""
