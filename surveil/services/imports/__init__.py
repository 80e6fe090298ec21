"""CSV import (issue 16): a clinic's spreadsheet read, checked row by row, and committed as one
batch through the same registry checks as the forms, or not at all."""
