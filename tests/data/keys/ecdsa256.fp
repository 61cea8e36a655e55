256 SHA256:0t7W29Pf/vkqNQalrBG86KEpGoZNxCwJpvalshVcbLo fixture-ecdsa256 (ECDSA)
