from s3rb_stream.cli import main

main()
