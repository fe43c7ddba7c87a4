"""Render stage: find the inputs, open them (passwords, repair), render each page to the target size,
enhance contrast, encode, store. ``stage.render_folder`` is the entry; workers run ``rasterize``."""
