"""The quota ledger's parts; the public names live in :mod:`langchain_modelscope.quota`."""
