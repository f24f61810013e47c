"""Benchmarks (``make bench`` / ``python -m bench [names]``): each module with a
``main()`` prints one JSON line per figure, its baseline measured in the same run."""
