"""The pure core: the profile model, validation, the gate and the scheduling arithmetic. No I/O."""
