"""Reports over the registry: the clinic as a whole (the worklist as it was, capacity, quality,
letters: issue 20) and the counts of coded reasons (issue 14)."""
