module swissprog

go 1.24
