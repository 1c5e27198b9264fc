module example.com/stops

go 1.26.0
