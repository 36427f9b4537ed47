"""Pure outputs: the bytes of every file a homepage reads (data files, history, badges, chart,
job summary), made from model values with no I/O."""
