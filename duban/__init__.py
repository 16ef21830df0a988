"""duban — 12345 热线督办台账: the supervision ledger of a town's 12345 hotline office.

Pure domain logic: no Streamlit import anywhere in this package.
"""
