module example.com/captureprog

go 1.19
