module mapfix

go 1.18
