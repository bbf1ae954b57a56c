"""Paper reproductions and studies built on the tasks, importable and testable; the CLI
(``grukit reproduce``, ``grukit analyze gradients``) only parses their options and prints.

- ``chung2014``: Chung et al. (2014)'s Table 2, tanh RNN / LSTM / GRU on polyphonic music;
- ``gradients``: how much of the loss's gradient reaches a state d steps back.
"""
