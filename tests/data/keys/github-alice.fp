256 SHA256:NYikfu3PUI1u9hyRRGCWqlrcGLd/kt0+Hl1mOb6o5oQ no comment (ED25519)
