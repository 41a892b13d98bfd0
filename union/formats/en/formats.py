"""English formats for an international union: Django's are American (12/01/2026, 3:04 p.m.).

Members read English in Nairobi, Manila and Bogotá alike: a day-month-year date with the month
in words cannot be misread, and shift workers count hours on a 24-hour clock. Anything not set
here (input formats, separators) is Django's English.
"""

DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
FIRST_DAY_OF_WEEK = 1
