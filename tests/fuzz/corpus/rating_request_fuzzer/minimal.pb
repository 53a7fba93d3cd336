
kmo d