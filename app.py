from tasky import create_app

app = create_app()
