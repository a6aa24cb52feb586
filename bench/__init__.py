"""Benchmarks of langchain-modelscope against langchain-openai and the floor (bare httpx plus
langchain-core's own cost): ``make bench`` / ``python -m bench``. See ``bench/results.md``.

Speed is measured here and never asserted in timed tests; ``tests/bench`` only checks that a
quick run still produces every table.
"""
