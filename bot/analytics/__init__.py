"""The read side for analysts: survey exports with a codebook, idea and follow-up exports, and the report.

Nothing here writes to the database. Queries stream rows (`query`), pure code turns them into table rows
(`table`, `codebook`, `status`), writers put them into files (`csvout`, `xlsx`, `sav`, `jsonl`), and `report`
builds the HTML report with small-number suppression.
"""
