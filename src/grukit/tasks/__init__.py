"""Tasks for the trainer: the data, the loss and the head of each (see ``runner``)."""

TASKS = {
    "music": "grukit.tasks.music",
    "adding": "grukit.tasks.adding",
    "copy": "grukit.tasks.copy_memory",
    "digits": "grukit.tasks.digits",
    "sunspots": "grukit.tasks.sunspots",
    "electricity": "grukit.tasks.electricity",
    "spoken_digits": "grukit.tasks.spoken_digits",
    "vowels": "grukit.tasks.vowels",
    "classify": "grukit.tasks.classify",
    "sentiment": "grukit.tasks.sentiment",
}
"""Task name -> the module that offers its DataConfig and make_task."""
