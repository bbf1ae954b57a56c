"""Tasks: data + model + loss + metrics + report for the trainer, grouped by family
(``synthetic``, ``music``, ``classification``, ``forecasting``); the protocol every task
follows is ``grukit.tasks.base.Task``, and ``runner`` trains and scores any of them."""

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
}
"""Task name -> "module:Class" of its Task; the module is imported only when it is used."""
