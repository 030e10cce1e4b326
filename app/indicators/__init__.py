"""Key ratios (Kolada) and indicators (Öppna jämförelser style) as data."""
