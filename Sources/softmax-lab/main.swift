import SoftmaxLabCLI

SoftmaxLab.main()
