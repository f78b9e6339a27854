module github.com/keeper-go/keeper

go 1.26.0
