"""Music tasks: next-step prediction of polyphonic piano rolls (``next_step``)."""
