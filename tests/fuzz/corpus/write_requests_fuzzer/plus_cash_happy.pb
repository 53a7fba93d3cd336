
m-3plus@
o-3m-3s-3"c-9*EUR0Ð8¬B
xpizzafood (¤J°‡óÐP"
k-3m-3o-3 _