"""Tasks: data + model + loss + metrics + report for the trainer, grouped by family
(``synthetic``, ``music``, ``classification``, ``forecasting``); the protocol every task
follows is ``grukit.tasks.base.Task``, and ``grukit.run`` trains and scores any of them."""

TASKS = {
    "music": "grukit.tasks.music.next_step:MusicTask",
    "adding": "grukit.tasks.synthetic.adding:AddingTask",
    "copy": "grukit.tasks.synthetic.copy_memory:CopyTask",
    "digits": "grukit.tasks.classification.digits:DigitsTask",
    "sunspots": "grukit.tasks.forecasting.sunspots:SunspotsTask",
    "electricity": "grukit.tasks.forecasting.electricity:ElectricityTask",
    "spoken_digits": "grukit.tasks.classification.spoken_digits:SpokenDigitsTask",
    "vowels": "grukit.tasks.classification.vowels:VowelsTask",
    "classify": "grukit.tasks.classification.classify:ClassifyTask",
    "sentiment": "grukit.tasks.classification.sentiment:SentimentTask",
    "lm": "grukit.tasks.language.lm:LanguageModelTask",
}
"""Task name -> "module:Class" of its Task (the module is imported only when it is used),
or the Task class itself for tasks registered from outside the package."""


def register(name: str, task) -> None:
    """Make a Task class (or "module:Class") trainable by name, e.g. from your own code:
    ``register("parity", ParityTask)`` then ``grukit.train_task("parity")``."""
    if name in TASKS:
        raise ValueError(f"task: {name!r} is registered already")
    TASKS[name] = task
