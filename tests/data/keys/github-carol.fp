3072 SHA256:Jx/o6Bbe1M5i6J4cd+AnwB3hXQd7EwOpYXokWrPWAno no comment (RSA)
