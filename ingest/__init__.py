"""Getting plays in: listening-history file formats, the import pipeline (read, check, key, write in
batches), the bulk writer process and the synthetic community generator of the demo.

Layer: may import ``storage`` and ``config``, never ``bot`` or ``engine``."""
