"""Everything that is not a widget: scanning, image loading, encoders, storage, search, labelling.

Nothing under this package may import Qt; the GUI and the CLI are front ends over it.
"""
