"""The rooms' pages: server-rendered shells; keys, plaintext and room names live only in the browser."""
