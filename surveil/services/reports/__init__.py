"""The clinic as a whole: the worklist as it was, capacity, quality, letters (issue 20)."""
