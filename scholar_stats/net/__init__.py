"""HTTP plumbing every outside source shares: one wall-clock deadline per run and bounded reads."""
