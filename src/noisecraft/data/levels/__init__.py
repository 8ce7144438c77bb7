"""Game levels (Super Mario Bros, Zelda rooms from the VGLC): tiles, data sets, the playability agents and
drawings. See tiles.py (representation), dataset.py (training data), agents.py, mario.py, zelda.py, render.py."""
