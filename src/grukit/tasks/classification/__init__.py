"""Sequence-classification tasks (``digits``, ``spoken_digits``, ``vowels``, ``sentiment``,
and ``classify`` for a user's own file); ``base`` holds the loss, scores, confusion matrix,
baseline and batching they share."""
