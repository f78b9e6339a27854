module github.com/keeper-go/keeper/chaos

go 1.26.0

require github.com/keeper-go/keeper v0.0.0

require github.com/anishathalye/porcupine v1.3.1

replace github.com/keeper-go/keeper => ../
